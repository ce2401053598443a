from flask import Flask, jsonify


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/health")
    def health():
        return jsonify(status="healthy")

    @app.get("/health/ready")
    def ready():
        return jsonify(status="ready")

    return app
