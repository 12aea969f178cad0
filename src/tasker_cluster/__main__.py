from tasker_cluster.cli.app import main

main()
