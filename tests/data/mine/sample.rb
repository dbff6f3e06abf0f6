module Sample
  # Returns the words of the string in
  # alphabetical order.
  def sorted_words(text)
    words = text.split
    words.sort
  end

  # Creates the object with the given name.
  def initialize(name)
    @name = name
    @age = 0
  end
end
