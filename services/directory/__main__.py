"""`python -m services.directory`: run the directory service until SIGTERM/SIGINT."""

from services.directory.bootstrap import main

if __name__ == "__main__":
    main()
