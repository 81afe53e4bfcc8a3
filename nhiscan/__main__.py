from nhiscan.cli.main import run

run()
