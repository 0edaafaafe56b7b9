"""`python -m services.booking`: run the booking service until SIGTERM/SIGINT."""

from services.booking.bootstrap import main

if __name__ == "__main__":
    main()
