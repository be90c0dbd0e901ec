from dlcli.cli.app import main

raise SystemExit(main())
