from chargegate.cli import app

app(prog_name="chargegate")
