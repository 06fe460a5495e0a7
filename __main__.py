from lamina.compiler.cli import main

raise SystemExit(main())
