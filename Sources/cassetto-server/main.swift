print("cassetto-server: not yet")
