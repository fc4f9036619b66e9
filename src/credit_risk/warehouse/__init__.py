"""The MySQL/MariaDB warehouse: connections, the bulk load and the SQL build."""
