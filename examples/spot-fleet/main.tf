# A Spot fleet over three European Regions that may hold at most half its capacity in any one of
# them: the fleet_optimizer function moves capacity toward the cleanest grids (launch before drain,
# hysteresis, a minimum dwell time), and each Region's target-tracking policy loosens or tightens
# its CPU target with the Region's carbon intensity tier.

provider "aws" {
  region = var.regions[0]
}

module "carbon_aware" {
  source = "../../"

  name    = "carbon-aware-spot"
  regions = var.regions

  fleets = {
    web = {
      regions = {
        for r, n in var.networks : r => {
          subnet_ids         = n.subnet_ids
          security_group_ids = n.security_group_ids
          max_share          = 0.5
          # One on-demand instance in the home Region keeps the service up through a Spot drought.
          on_demand_base_capacity = r == var.regions[0] ? 1 : 0
        }
      }
      architecture   = "arm64"
      instance_types = ["m7g.large", "m6g.large", "c7g.xlarge", "r7g.large"]
      min_total      = 2
      desired_total  = 6
      max_total      = 12
      strategy       = "carbon_first"
      dwell_minutes  = 60
      max_step       = 2

      instance_profile_arn = var.instance_profile_arn
      # The launch hook holds a new instance until it says it is ready (or 3 minutes pass);
      # the instance profile needs autoscaling:CompleteLifecycleAction for that.
      launch_heartbeat_timeout = 180
      user_data                = file("${path.module}/user_data.sh")
    }
  }

  create_alarm_topic = true

  tags = var.tags
}
