import torch.nn.functional as F

a = F.relu(x)  # trailing comment stays
b = F.relu(
    x,  # the input
)
c = F.relu(
    x,
)
d = F.relu(x,)
e = F.relu(input=x)
