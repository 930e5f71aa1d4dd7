from caseline.cli import app

app(prog_name="caseline")
