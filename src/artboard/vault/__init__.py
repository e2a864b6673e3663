"""Key vault: provider keys sealed under a password only the user knows, and the key sessions that hold them."""
