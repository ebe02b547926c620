print("vigil-agent")
