"""The Shimenzi demo site: its site file and a synthetic, physically plausible history."""
