from obcp.cli.main import main

main()
