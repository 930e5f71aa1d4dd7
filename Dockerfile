# One image for every Caseline service; the command picks the service.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml ./
COPY caseline ./caseline
COPY eventcore ./eventcore
COPY schemas ./schemas
COPY services ./services
COPY district ./district
COPY deadlines ./deadlines
COPY webui ./webui
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 caseline
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER caseline
WORKDIR /home/caseline
# Production unless told otherwise: development credentials and missing secrets stop every service.
ENV CASELINE_ENV=production CASELINE_HTTP_HOST=0.0.0.0 CASELINE_LOG_JSON=true
ENTRYPOINT ["caseline"]
CMD ["service", "intake"]
