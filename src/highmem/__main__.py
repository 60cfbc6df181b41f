from highmem.cli import main

raise SystemExit(main())
