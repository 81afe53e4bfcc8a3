"""Where bytes come from: files on disk, the staged index, git history."""
