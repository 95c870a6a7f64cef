package runtime

import "os"

func hostName() (string, error) { return os.Hostname() }
