"""`python -m services.identity`: run the identity service until SIGTERM/SIGINT."""

from services.identity.bootstrap import main

if __name__ == "__main__":
    main()
