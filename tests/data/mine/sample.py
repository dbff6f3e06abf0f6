def add_numbers(a, b):
    """Add two numbers and return the sum.

    Args:
        a: first
    """
    total = a + b
    return total


def no_doc(a):
    x = a
    return x


class Thing:
    def __init__(self):
        """Create the thing with defaults."""
        self.x = 1
        self.y = 2

    def scale(self, k):
        '''Scale every coordinate of the thing by k.'''
        self.x *= k
        self.y *= k
        return self
