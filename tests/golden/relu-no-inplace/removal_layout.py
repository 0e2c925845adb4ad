import torch.nn.functional as F

a = F.relu(x, inplace=True)  # trailing comment stays
b = F.relu(
    x,  # the input
    inplace=True
)
c = F.relu(
    x,
    inplace=True,
)
d = F.relu(x, inplace=True,)
e = F.relu(inplace=True, input=x)
