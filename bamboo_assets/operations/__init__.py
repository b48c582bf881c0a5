"""What an operator runs by hand: the `bamboo` command (backup and restore of a deployment)."""
