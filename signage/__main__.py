from signage.cli import main

main()
