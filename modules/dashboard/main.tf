locals {
  period = 300

  # The console of each partition; the commercial one has a Regional host name.
  console_url = lookup({
    aws-cn     = "https://console.amazonaws.cn"
    aws-us-gov = "https://console.amazonaws-us-gov.com"
  }, var.partition, "https://${var.region}.console.aws.amazon.com")

  # [namespace, metric, dimension name, dimension values, stat, title]
  panels = [
    ["AWS/Lambda", "Invocations", "FunctionName", var.function_names, "Sum", "Invocations"],
    ["AWS/Lambda", "Errors", "FunctionName", var.function_names, "Sum", "Errors"],
    ["AWS/Lambda", "Duration", "FunctionName", var.function_names, "p99", "Duration p99 (ms)"],
    ["AWS/Lambda", "Throttles", "FunctionName", var.function_names, "Sum", "Throttles"],
    ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", var.table_names, "Sum", "DynamoDB reads"],
    ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", var.table_names, "Sum", "DynamoDB writes"],
    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_names, "Maximum", "Dead-letter messages"],
  ]

  metric_widgets = [
    for i, p in local.panels : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = p[5]
        region  = var.region
        view    = "timeSeries"
        stat    = p[4]
        period  = local.period
        metrics = [for v in p[3] : [p[0], p[1], p[2], v]]
      }
    } if length(p[3]) > 0
  ]

  # The handlers' own EMF metrics, found with SEARCH so new Regions, providers and fleets appear
  # by themselves: [title, [[id, expression, label, visible]], period].
  ns = var.metrics_namespace
  service_panels = [
    ["Carbon intensity per Region (g/kWh)", [["e0", "SEARCH('{${local.ns},Region} MetricName=\"CarbonIntensity\"', 'Average', 900)", "", true]], 900],
    # Grams are summed, never averaged: per day, and cumulative over the dashboard's range.
    ["Grams CO2e saved per day", [["e0", "SUM(SEARCH('{${local.ns}} MetricName=\"EmissionsSavedGrams\"', 'Sum', 86400))", "saved per day", true]], 86400],
    ["Grams CO2e saved, cumulative", [["e0", "SUM(SEARCH('{${local.ns}} MetricName=\"EmissionsSavedGrams\"', 'Sum', 86400))", "", false], ["e1", "RUNNING_SUM(e0)", "cumulative", true]], 86400],
    ["Workloads by state", [["e0", "SEARCH('{${local.ns}} MetricName=(\"WorkloadSubmitted\" OR \"PlannedScheduled\" OR \"DispatchRunning\" OR \"WorkloadSucceeded\" OR \"WorkloadFailed\" OR \"DispatchExpired\" OR \"DispatchFailed\")', 'Sum', 3600)", "", true]], 3600],
    ["Due-index lag (s, max)", [["e0", "SEARCH('{${local.ns}} MetricName=\"DueIndexLagSeconds\"', 'Maximum', 300)", "", true]], 300],
    ["Dispatch latency (s, p99)", [["e0", "SEARCH('{${local.ns}} MetricName=\"DispatchLatencySeconds\"', 'p99', 300)", "", true]], 300],
    ["Provider used (Regions per run)", [["e0", "SEARCH('{${local.ns},Provider} MetricName=\"ProviderUsed\"', 'Sum', 3600)", "", true]], 3600],
    ["Decisions on estimates (%)", [["e0", "SUM(SEARCH('{${local.ns}} MetricName=\"DecisionsOnEstimates\"', 'Sum', 3600))", "", false], ["e1", "SUM(SEARCH('{${local.ns}} MetricName=\"Decisions\"', 'Sum', 3600))", "", false], ["e2", "IF(e1 > 0, 100 * e0 / e1, 0)", "on estimates %", true]], 3600],
    ["Fleet capacity per Region", [["e0", "SEARCH('{${local.ns},Fleet,Region} MetricName=(\"FleetDesiredCapacity\" OR \"FleetInServiceCapacity\")', 'Average', 300)", "", true]], 300],
    # The fleet optimizer accounts each interval between its runs (engine/fleet_footprint.py).
    ["Fleet grams CO2e per day (emitted, saved vs home Region)", [["e0", "SUM(SEARCH('{${local.ns},Fleet,Region} MetricName=\"FleetEmissionsGrams\"', 'Sum', 86400))", "emitted", true], ["e1", "SUM(SEARCH('{${local.ns},Fleet} MetricName=\"FleetSavedGrams\"', 'Sum', 86400))", "saved", true]], 86400],
    ["Fleet spot dollars per day", [["e0", "SUM(SEARCH('{${local.ns},Fleet,Region} MetricName=\"FleetCostUSD\"', 'Sum', 86400))", "USD", true]], 86400],
    ["Migrations", [["e0", "SEARCH('{${local.ns},Region} MetricName=\"Migrations\"', 'Sum', 3600)", "", true]], 3600],
    ["Interruption events by kind and Region", [["e0", "SEARCH('{${local.ns},Kind,Region} MetricName=\"InterruptionEvents\"', 'Sum', 3600)", "", true]], 3600],
    ["Carbon API errors", [["e0", "SEARCH('{${local.ns},Provider} MetricName=\"ProviderErrors\"', 'Sum', 3600)", "", true]], 3600],
    # Dispatch availability SLO: share of its error budget left over the dashboard's range.
    ["Dispatch availability: error budget remaining (%)", [["e0", "SUM(SEARCH('{${local.ns}} MetricName=\"DispatchWindowMet\"', 'Sum', 3600))", "", false], ["e1", "SUM(SEARCH('{${local.ns}} MetricName=\"DispatchWindowTotal\"', 'Sum', 3600))", "", false], ["e2", "IF(RUNNING_SUM(e1) > 0, 100 * (1 - (1 - RUNNING_SUM(e0) / RUNNING_SUM(e1)) / ${1 - var.slo_targets.dispatch_availability}), 100)", "budget left %", true]], 3600],
    # Carbon efficiency SLO: realised over perfect-forecast savings of the workloads whose oracle
    # the sweep settled (carbon_aware.runtime.oracle).
    ["Carbon efficiency: error budget remaining (%)", [["e0", "SUM(SEARCH('{${local.ns}} MetricName=\"RealisedSavedGrams\"', 'Sum', 3600))", "", false], ["e1", "SUM(SEARCH('{${local.ns}} MetricName=\"OracleSavedGrams\"', 'Sum', 3600))", "", false], ["e2", "IF(RUNNING_SUM(e1) > 0, 100 * (1 - (1 - RUNNING_SUM(e0) / RUNNING_SUM(e1)) / ${1 - var.slo_targets.carbon_efficiency}), 100)", "budget left %", true]], 3600],
  ]

  search_widgets = [
    for i, p in local.service_panels : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = 100 + floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = p[0]
        region  = var.region
        view    = "timeSeries"
        period  = p[2]
        metrics = [for e in p[1] : [{ id = e[0], expression = e[1], label = e[2], visible = e[3] }]]
      }
    }
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create ? 1 : 0

  region         = var.region
  dashboard_name = var.dashboard_name
  dashboard_body = jsonencode({ widgets = concat(local.metric_widgets, local.search_widgets) })
}
