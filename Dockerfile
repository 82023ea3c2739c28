FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY digest ./digest
COPY subscriptions ./subscriptions
RUN pip install --no-cache-dir .
COPY . .
RUN DEBUG=1 SECRET_KEY=build-only python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "digest.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
