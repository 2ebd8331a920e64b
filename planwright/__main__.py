from planwright.cli import main

main()
