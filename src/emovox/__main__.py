from emovox.interfaces.cli import main

main()
