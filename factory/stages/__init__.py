"""Pipeline stages. Each is plain Python over files and Arrow tables; none imports Ray."""
