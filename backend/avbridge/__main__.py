from avbridge.cli import main

raise SystemExit(main())
