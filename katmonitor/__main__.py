from katmonitor.cli import main

raise SystemExit(main())
