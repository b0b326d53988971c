"""The local sandbox: real or emulated services standing in for AWS, Vault, Consul, Boundary."""
