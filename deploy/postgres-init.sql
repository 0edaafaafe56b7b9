-- One database per service (each owns its schema and migrations).
CREATE DATABASE identity;
CREATE DATABASE directory;
CREATE DATABASE availability;
CREATE DATABASE booking;
