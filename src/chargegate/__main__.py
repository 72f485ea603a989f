from chargegate.cli import app

# Guarded: `serve --workers` starts its workers by spawning, which imports this module again.
if __name__ == "__main__":
    app(prog_name="chargegate")
