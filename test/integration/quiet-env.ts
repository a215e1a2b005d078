// Imported first by the harness: Powertools reads these when its modules load.
process.env.CONNECTOR_ALLOW_LOOPBACK_HTTP = 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
