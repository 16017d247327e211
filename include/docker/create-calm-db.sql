-- Runs once when the PostgreSQL volume is created: the CalmCompliance database.
CREATE USER calm WITH PASSWORD 'calm';
CREATE DATABASE calm OWNER calm;
