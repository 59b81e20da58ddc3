from brandmon.cli import main

main()
