"""Data for sslts: synthetic pretraining generators and window helpers."""
