"""The floor for the web figures: a bare Flask "hello", served by the same gunicorn settings as the
app (`gunicorn -w 5 bench.hello:app`). Whatever a signed-in page costs on top of this is ours."""
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    return "hello"
