from ncii_shield.cli.main import run

run()
