FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 AFTERCARE_DATA_DIR=/data AFTERCARE_HOST=0.0.0.0
RUN useradd --create-home --uid 10001 aftercare && mkdir /data && chown aftercare /data
WORKDIR /app
# setup.py compiles the message catalogs during the install.
COPY pyproject.toml setup.py README.md LICENSE ./
COPY aftercare ./aftercare
RUN pip install --no-cache-dir .
USER aftercare
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready').status != 200)"
CMD ["aftercare", "serve"]
