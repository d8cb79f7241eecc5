"""Training the learned motion model (`avbridge train`). Nothing the server runs imports this."""
