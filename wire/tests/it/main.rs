//! Integration tests of the wire server against real clients.

mod common;
mod external;
mod hostile;
mod own_client;
mod with_mysql_async;
