"""`python -m services.availability`: run the availability service until SIGTERM/SIGINT."""

from services.availability.bootstrap import main

if __name__ == "__main__":
    main()
