from mse_lint.cli.fastpath import main

main()
