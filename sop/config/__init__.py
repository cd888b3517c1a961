"""Team configuration: `sop.toml` found upward from the working directory (the project's, shared
in its repository) and `$XDG_CONFIG_HOME/sop/config.toml` (the user's), read with the standard
library's TOML reader, checked against one declaration, and judged for trust: whatever can run a
program or send data (notifications, inventories, SSH files, the state directory) comes only
from the user's file or a project file the user trusted (`sop config trust`)."""
