from ftbot.cli import main

main()
