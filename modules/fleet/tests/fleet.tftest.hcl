# The fleet module alone, offline (mock_provider "aws"): one group per Region with its launch
# template, what the issue promises of each, and the validation of every input.

mock_provider "aws" {
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ami-0123456789abcdef0" }
  }
  mock_resource "aws_autoscaling_group" {
    defaults = { arn = "arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:uuid:autoScalingGroupName/web" }
  }
}

variables {
  name           = "web"
  instance_types = ["m7g.large", "m6g.large", "c7g.xlarge"]
  min_total      = 2
  max_total      = 10
  desired_total  = 5
  regions = {
    "eu-west-1"    = { subnet_ids = ["subnet-a", "subnet-b"], security_group_ids = ["sg-1"], min_share = 0.2, max_share = 0.5 }
    "eu-west-2"    = { subnet_ids = ["subnet-c"], security_group_ids = ["sg-2"], max_share = 0.5, image_id = "ami-0fedcba9876543210" }
    "eu-central-1" = { subnet_ids = ["subnet-d"], security_group_ids = ["sg-3"], max_share = 0.5, on_demand_base_capacity = 1 }
  }
  tags = { team = "platform" }
}

run "a_group_per_region" {
  command = apply

  assert {
    condition     = toset(keys(aws_autoscaling_group.this)) == toset(["eu-west-1", "eu-west-2", "eu-central-1"]) && alltrue([for r, g in aws_autoscaling_group.this : g.region == r])
    error_message = "one Auto Scaling group per Region, in that Region"
  }

  assert {
    condition     = alltrue([for r, t in aws_launch_template.this : t.region == r]) && alltrue([for r, p in aws_autoscaling_policy.this : p.region == r]) && length(aws_launch_template.this) == 3
    error_message = "launch templates and scaling policies live in their group's Region"
  }

  assert {
    condition = alltrue([for g in aws_autoscaling_group.this : (
      g.capacity_rebalance &&
      g.mixed_instances_policy[0].instances_distribution[0].spot_allocation_strategy == "price-capacity-optimized" &&
      g.mixed_instances_policy[0].instances_distribution[0].on_demand_percentage_above_base_capacity == 0 &&
      [for o in g.mixed_instances_policy[0].launch_template[0].override : o.instance_type] == ["m7g.large", "m6g.large", "c7g.xlarge"]
    )])
    error_message = "mixed instances: price-capacity-optimized Spot over the three types, capacity rebalancing on"
  }

  assert {
    condition     = { for r, g in aws_autoscaling_group.this : r => g.mixed_instances_policy[0].instances_distribution[0].on_demand_base_capacity } == { "eu-west-1" = 0, "eu-west-2" = 0, "eu-central-1" = 1 }
    error_message = "on-demand base capacity per Region"
  }

  assert {
    condition = alltrue([for r, g in aws_autoscaling_group.this : (
      g.mixed_instances_policy[0].launch_template[0].launch_template_specification[0].launch_template_id == aws_launch_template.this[r].id
    )])
    error_message = "each group launches from its own Region's template"
  }

  assert {
    condition     = alltrue([for t in aws_launch_template.this : t.metadata_options[0].http_tokens == "required" && t.metadata_options[0].http_endpoint == "enabled"])
    error_message = "IMDSv2 required"
  }

  assert {
    condition     = alltrue([for t in aws_launch_template.this : alltrue([for b in t.block_device_mappings : b.ebs[0].encrypted == "true"])])
    error_message = "every volume encrypted"
  }

  assert {
    condition     = { for r, t in aws_launch_template.this : r => t.image_id } == { "eu-west-1" = "ami-0123456789abcdef0", "eu-west-2" = "ami-0fedcba9876543210", "eu-central-1" = "ami-0123456789abcdef0" }
    error_message = "an explicit AMI where given, else the SSM parameter resolved in the Region"
  }

  assert {
    condition     = toset(keys(data.aws_ssm_parameter.image)) == toset(["eu-west-1", "eu-central-1"]) && alltrue([for r, d in data.aws_ssm_parameter.image : d.region == r && d.name == "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"])
    error_message = "the AMI parameter of the architecture is read in each Region without an image_id"
  }

  assert {
    condition = (
      { for r, g in aws_autoscaling_group.this : r => [g.min_size, g.max_size, g.desired_capacity] } ==
      { "eu-central-1" = [0, 5, 2], "eu-west-1" = [0, 5, 2], "eu-west-2" = [0, 5, 1] }
    )
    error_message = "limits from the shares of the fleet totals (floor(0.2 * 2) = 0, ceil(0.5 * 10) = 5); desired_total 5 split 2/2/1 in name order"
  }

  assert {
    condition = alltrue([for g in aws_autoscaling_group.this : (
      { for h in g.initial_lifecycle_hook : h.lifecycle_transition => h.heartbeat_timeout } ==
      { "autoscaling:EC2_INSTANCE_LAUNCHING" = 300, "autoscaling:EC2_INSTANCE_TERMINATING" = 120 }
    )])
    error_message = "launch and terminate lifecycle hooks with their heartbeat timeouts"
  }

  assert {
    condition = alltrue([for g in aws_autoscaling_group.this : (
      { for t in g.tag : t.key => t.value if t.propagate_at_launch } == { team = "platform", Name = "web", "carbon-aware:fleet" = "web" }
    )])
    error_message = "group tags, propagated to the instances"
  }

  assert {
    condition = alltrue([for p in aws_autoscaling_policy.this : (
      p.policy_type == "TargetTrackingScaling" && p.name == "web-carbon-utilisation" &&
      p.target_tracking_configuration[0].target_value == 90 &&
      p.target_tracking_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ASGAverageCPUUtilization"
    )])
    error_message = "target tracking on CPU, starting at the top tier's target"
  }

  assert {
    condition = jsonencode(output.settings) == jsonencode({
      regions             = ["eu-central-1", "eu-west-1", "eu-west-2"]
      groups              = { "eu-central-1" = "web", "eu-west-1" = "web", "eu-west-2" = "web" }
      instance_types      = ["m7g.large", "m6g.large", "c7g.xlarge"]
      min_total           = 2
      max_total           = 10
      desired_total       = 5
      min_share           = { "eu-central-1" = 0, "eu-west-1" = 0.2, "eu-west-2" = 0 }
      max_share           = { "eu-central-1" = 0.5, "eu-west-1" = 0.5, "eu-west-2" = 0.5 }
      strategy            = "carbon_first"
      hysteresis          = 0.05
      dwell_minutes       = 60
      max_step            = null
      move_cost_minutes   = 30
      lookahead_hours     = 12
      renewable_threshold = 0.5
      scaling_tiers       = [{ below = 100, target = 60 }, { below = 200, target = 75 }, { below = null, target = 90 }]
      scaling_policy_name = "web-carbon-utilisation"
    })
    error_message = "the optimizer's settings of the fleet"
  }
}

# The optimizer owns desired capacity and the scaling targets: a second apply with other totals
# changes the limits but plans no change of desired capacity or target.
run "optimizer_owned_attributes_are_ignored" {
  command = plan

  variables {
    desired_total = 9
    scaling_tiers = [{ below = 150, target = 50 }, { below = null, target = 70 }]
  }

  assert {
    condition     = { for r, g in aws_autoscaling_group.this : r => g.desired_capacity } == { "eu-central-1" = 2, "eu-west-1" = 2, "eu-west-2" = 1 }
    error_message = "desired capacity stays what the optimizer left (ignore_changes)"
  }

  assert {
    condition     = alltrue([for p in aws_autoscaling_policy.this : p.target_tracking_configuration[0].target_value == 90])
    error_message = "the scaling target stays what the optimizer left (ignore_changes)"
  }
}

run "instance_requirements_and_x86" {
  command = apply

  variables {
    architecture          = "x86_64"
    instance_types        = []
    instance_requirements = { vcpu_min = 2, vcpu_max = 8, memory_mib_min = 4096, allowed_instance_types = ["m7i.large", "m7a.large", "c7i.xlarge"] }
    root_volume           = { size_gib = 50, kms_key_arns = { "eu-west-1" = "arn:aws:kms:eu-west-1:111122223333:key/ebs" } }
    user_data             = "#!/bin/sh\necho hello\n"
    instance_profile_arn  = "arn:aws:iam::111122223333:instance-profile/web"
  }

  assert {
    condition = alltrue([for g in aws_autoscaling_group.this : (
      length(g.mixed_instances_policy[0].launch_template[0].override) == 1 &&
      g.mixed_instances_policy[0].launch_template[0].override[0].instance_requirements[0].vcpu_count[0].min == 2 &&
      g.mixed_instances_policy[0].launch_template[0].override[0].instance_requirements[0].memory_mib[0].min == 4096 &&
      g.mixed_instances_policy[0].launch_template[0].override[0].instance_requirements[0].cpu_manufacturers == toset(["amd", "intel"]) &&
      g.mixed_instances_policy[0].launch_template[0].override[0].instance_requirements[0].allowed_instance_types == toset(["m7i.large", "m7a.large", "c7i.xlarge"])
    )])
    error_message = "one override with the instance requirements, x86 CPU makers, among the allowed types"
  }

  assert {
    condition     = jsonencode(output.settings.instance_types) == jsonencode(["m7i.large", "m7a.large", "c7i.xlarge"])
    error_message = "the optimizer prices the allowed types"
  }

  assert {
    condition     = jsonencode({ for r, t in aws_launch_template.this : r => t.block_device_mappings[0].ebs[0].kms_key_id }) == jsonencode({ "eu-west-1" = "arn:aws:kms:eu-west-1:111122223333:key/ebs", "eu-west-2" = null, "eu-central-1" = null })
    error_message = "each Region's volume key"
  }

  assert {
    condition     = alltrue([for t in aws_launch_template.this : base64decode(t.user_data) == "#!/bin/sh\necho hello\n" && t.iam_instance_profile[0].arn == "arn:aws:iam::111122223333:instance-profile/web"])
    error_message = "user data (base64) and instance profile"
  }

  assert {
    condition     = alltrue([for d in data.aws_ssm_parameter.image : d.name == "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"])
    error_message = "the x86_64 AMI parameter"
  }
}

run "create_false_creates_nothing" {
  command = apply
  variables { create = false }

  assert {
    condition     = length(aws_autoscaling_group.this) + length(aws_launch_template.this) + length(aws_autoscaling_policy.this) + length(data.aws_ssm_parameter.image) == 0 && output.settings == null
    error_message = "create = false creates nothing"
  }
}

run "rejects_two_instance_types" {
  command = plan
  variables { instance_types = ["m7g.large", "m6g.large"] }
  expect_failures = [var.instance_types]
}

run "rejects_types_and_requirements_together" {
  command = plan
  variables { instance_requirements = { vcpu_min = 2, memory_mib_min = 4096, allowed_instance_types = ["m7g.large"] } }
  expect_failures = [var.instance_types]
}

run "rejects_requirements_without_allowed_types" {
  command = plan
  variables {
    instance_types        = []
    instance_requirements = { vcpu_min = 2, memory_mib_min = 4096, allowed_instance_types = [] }
  }
  expect_failures = [var.instance_requirements]
}

run "rejects_x86_types_on_arm64" {
  command = plan
  variables { instance_types = ["m7g.large", "m7i.large", "c7g.large"] }
  expect_failures = [var.instance_types]
}

run "rejects_share_above_one" {
  command = plan
  variables {
    regions = {
      "eu-west-1" = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"], max_share = 1.5 }
    }
  }
  expect_failures = [var.regions]
}

run "rejects_min_shares_summing_above_one" {
  command = plan
  variables {
    regions = {
      "eu-west-1" = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"], min_share = 0.6 }
      "eu-west-2" = { subnet_ids = ["subnet-b"], security_group_ids = ["sg-2"], min_share = 0.6 }
    }
  }
  expect_failures = [var.regions]
}

run "rejects_max_shares_that_cannot_hold_the_total" {
  command = plan
  variables {
    regions = {
      "eu-west-1" = { subnet_ids = ["subnet-a"], security_group_ids = ["sg-1"], max_share = 0.4 }
      "eu-west-2" = { subnet_ids = ["subnet-b"], security_group_ids = ["sg-2"], max_share = 0.4 }
    }
  }
  expect_failures = [var.regions]
}

run "rejects_region_without_subnets" {
  command = plan
  variables {
    regions = {
      "eu-west-1" = { subnet_ids = [], security_group_ids = ["sg-1"] }
    }
  }
  expect_failures = [var.regions]
}

run "rejects_unknown_strategy" {
  command = plan
  variables { strategy = "greenest" }
  expect_failures = [var.strategy]
}

run "rejects_desired_total_above_max" {
  command = plan
  variables { desired_total = 11 }
  expect_failures = [var.desired_total]
}

run "rejects_tiers_without_a_final_catch_all" {
  command = plan
  variables { scaling_tiers = [{ below = 100, target = 60 }, { below = 200, target = 75 }] }
  expect_failures = [var.scaling_tiers]
}

run "rejects_descending_tiers" {
  command = plan
  variables { scaling_tiers = [{ below = 200, target = 60 }, { below = 100, target = 75 }, { target = 90 }] }
  expect_failures = [var.scaling_tiers]
}

run "rejects_zero_max_step" {
  command = plan
  variables { max_step = 0 }
  expect_failures = [var.max_step]
}

run "rejects_negative_move_cost" {
  command = plan
  variables { move_cost_minutes = -1 }
  expect_failures = [var.move_cost_minutes]
}

run "rejects_fractional_lookahead" {
  command = plan
  variables { lookahead_hours = 1.5 }
  expect_failures = [var.lookahead_hours]
}
