from safeguard.cli import main

main()
